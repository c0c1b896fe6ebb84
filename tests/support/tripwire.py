"""Run a command while a tripwire listens on a loopback port: `tripwire.py PORT -- CMD...`.

For tests/test_sealed.py, inside a network namespace of its own: a connection to PORT (IPv4
or IPv6 loopback) is closed at once and named on stderr, and then the exit code is 3 whatever
the command's was. A connection the kernel took but nobody accepted yet counts too.
"""

from __future__ import annotations

import select
import socket
import subprocess
import sys
import threading

TOUCHED = 3  # the exit code when something connected
TURN = 0.1  # s between looks at the listening sockets


class Tripwire:
    def __init__(self, port: int) -> None:
        self.touched: list[str] = []
        self.sockets: list[socket.socket] = []
        self._lock = threading.Lock()  # an accepted connection is counted before it is seen
        for family, host in ((socket.AF_INET, "127.0.0.1"), (socket.AF_INET6, "::1")):
            s = socket.socket(family, socket.SOCK_STREAM)
            s.bind((host, port))
            s.listen(socket.SOMAXCONN)
            s.setblocking(False)
            self.sockets.append(s)
        threading.Thread(target=self._watch, daemon=True).start()

    def _watch(self) -> None:
        while True:
            ready, _, _ = select.select(self.sockets, [], [], TURN)
            with self._lock:
                for s in ready:
                    try:
                        conn, peer = s.accept()
                    except BlockingIOError:
                        continue
                    self.touched.append(str(peer))
                    conn.close()

    def was_touched(self) -> bool:
        with self._lock:
            pending, _, _ = select.select(self.sockets, [], [], 0)
            return bool(self.touched or pending)


def main(argv: list[str]) -> int:
    port, separator, *command = argv
    assert separator == "--", __doc__
    wire = Tripwire(int(port))
    code = subprocess.run(command).returncode
    if wire.was_touched():
        print(f"tripwire: {port} was connected to from {wire.touched}", file=sys.stderr)
        return TOUCHED
    print("tripwire: untouched")
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
