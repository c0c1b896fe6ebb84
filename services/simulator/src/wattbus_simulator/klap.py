"""The device's side of KLAP (version 2), the login and encryption of current Tapo firmware
(docs/devices/kasa.md), for the fake Tapo plug.

The plug knows its account only as `auth_hash` = sha256(sha1(e-mail) + sha1(password)). In
handshake1 the client sends 16 random bytes (its seed); the plug answers its own 16 and
sha256(client seed + plug seed + auth_hash), which a client with another login cannot match.
In handshake2 the client proves its login with sha256(plug seed + client seed + auth_hash).
Both seeds and the hash then give an AES-128 key, an IV whose last 4 bytes are a signed
sequence number, and a signing key. Each request carries its number as `?seq=` and a body of
sha256(signing key + number + ciphertext), then the AES-CBC ciphertext (PKCS#7) of the JSON;
the answer is sealed the same way with the same number.
"""

from __future__ import annotations

import hashlib
import hmac
import struct
from dataclasses import dataclass, field

from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

SEED = 16  # bytes of each side's seed
SIGNATURE = 32  # bytes: a sha256 in front of each body
SEQ = struct.Struct(">i")
BLOCK = 128  # bits: AES's block, for the padding


class BadSeal(ValueError):
    """A body whose signature does not match, or that does not decrypt: not from this session."""


def sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def auth_hash(username: str, password: str) -> bytes:
    sha1 = hashlib.sha1  # the protocol's choice, not a safeguard of ours
    return sha256(sha1(username.encode()).digest() + sha1(password.encode()).digest())


def plug_proof(client_seed: bytes, plug_seed: bytes, auth: bytes) -> bytes:
    """What handshake1 answers after the plug's seed."""
    return sha256(client_seed + plug_seed + auth)


def client_proof(client_seed: bytes, plug_seed: bytes, auth: bytes) -> bytes:
    """What handshake2 must carry."""
    return sha256(plug_seed + client_seed + auth)


@dataclass
class Session:
    """One client's login, from handshake1 on; `confirmed` once handshake2 proved it."""

    client_seed: bytes
    plug_seed: bytes
    auth: bytes
    confirmed: bool = False
    key: bytes = field(init=False)
    iv: bytes = field(init=False)
    signing: bytes = field(init=False)

    def __post_init__(self) -> None:
        seeds = self.client_seed + self.plug_seed + self.auth
        self.key = sha256(b"lsk" + seeds)[:16]
        self.iv = sha256(b"iv" + seeds)[:12]
        self.signing = sha256(b"ldk" + seeds)[:28]

    def _cipher(self, seq: int) -> Cipher[modes.CBC]:
        return Cipher(algorithms.AES(self.key), modes.CBC(self.iv + SEQ.pack(seq)))

    def _signature(self, seq: int, ciphertext: bytes) -> bytes:
        return sha256(self.signing + SEQ.pack(seq) + ciphertext)

    def open(self, seq: int, body: bytes) -> bytes:
        signature, ciphertext = body[:SIGNATURE], body[SIGNATURE:]
        if not hmac.compare_digest(signature, self._signature(seq, ciphertext)):
            raise BadSeal("the signature does not match")
        decryptor = self._cipher(seq).decryptor()
        unpadder = padding.PKCS7(BLOCK).unpadder()
        try:
            padded = decryptor.update(ciphertext) + decryptor.finalize()
            return unpadder.update(padded) + unpadder.finalize()
        except ValueError as err:
            raise BadSeal(str(err)) from err

    def seal(self, seq: int, plain: bytes) -> bytes:
        padder = padding.PKCS7(BLOCK).padder()
        encryptor = self._cipher(seq).encryptor()
        padded = padder.update(plain) + padder.finalize()
        ciphertext = encryptor.update(padded) + encryptor.finalize()
        return self._signature(seq, ciphertext) + ciphertext
