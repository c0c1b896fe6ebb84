"""One plug through python-kasa: `Device.connect` by host (no UDP discovery), then `update()`
for each read. Without a login it speaks the legacy Kasa protocol (XOR on TCP 9999: HS100,
HS110); with one, the KLAP protocol of Tapo plugs (HTTP 80: P100, P110). The Device object is
kept: python-kasa's transport opens its connection again on the next query after one is lost,
so a plug that comes back is read without a new connect. Only a read that ran past its limit
drops it, and the next read connects afresh.

python-kasa's errors become `KasaError` here, and a write the plug answered with an error
code becomes `KasaRefused`: the bridge tells those apart (nothing switched, in the plug's
words) from a plug that did not answer at all."""

from __future__ import annotations

import asyncio

from kasa import Credentials, Device, DeviceConfig, DeviceError, KasaException, Module
from kasa.deviceconfig import DeviceConnectionParameters, DeviceEncryptionType, DeviceFamily

from wattbus_kasa.exceptions import KasaError, KasaRefused
from wattbus_kasa.readings import Reading
from wattbus_kasa.settings import KasaSettings

TIMEOUT = 5  # s per query, python-kasa's own default (it retries a timeout three times)
# query timeouts one read may take in all. A legacy plug that went away gives up after four
# (and a second between); a Tapo after minutes, as python-kasa then asks each of a dozen
# methods alone again, four times. Past this the plug is offline, not a poll that hangs
READ_LIMIT = 5
# a Tapo plug's protocol: KLAP with the second login version, which every current firmware has
TAPO = DeviceConnectionParameters(
    DeviceFamily.SmartTapoPlug, DeviceEncryptionType.Klap, login_version=2
)


def device_config(settings: KasaSettings) -> DeviceConfig:
    if settings.username is None or settings.password is None:
        return DeviceConfig(host=settings.host, port_override=settings.port, timeout=TIMEOUT)
    login = Credentials(settings.username, settings.password.get_secret_value())
    return DeviceConfig(host=settings.host, port_override=settings.port, timeout=TIMEOUT,
                        credentials=login, connection_type=TAPO)  # fmt: skip


def _refused(err: KasaException) -> bool:
    """The plug answered and said no. The legacy protocol raises its error codes as a bare
    KasaException (a lost connection comes with the socket error as its cause); the Tapo
    protocol as a DeviceError (its subclasses are logins, retries and timeouts)."""
    if type(err) is DeviceError:
        return True
    return type(err) is KasaException and err.__cause__ is None


class Plug:
    def __init__(self, config: DeviceConfig) -> None:
        self.config = config
        self.device: Device | None = None

    async def read(self) -> Reading:
        limit = (self.config.timeout or TIMEOUT) * READ_LIMIT
        try:
            async with asyncio.timeout(limit):
                if self.device is None:
                    self.device = await Device.connect(config=self.config)  # it reads once too
                else:
                    await self.device.update()
            return _reading(self.device)
        except KasaException as err:
            raise KasaError(str(err) or type(err).__name__) from err
        except (KeyError, TypeError, ValueError) as err:  # python-kasa reads answers unchecked
            reason = f"the plug's answer cannot be read: {type(err).__name__}: {err}"
            raise KasaError(reason) from err
        except TimeoutError as err:  # the limit's: python-kasa's own are KasaExceptions
            # a fresh connect next time: after a timeout in a batch python-kasa would ask
            # one method per request for the rest of its life, and the cut left it mid-read
            await self.close()
            self.device = None
            raise KasaError(f"the plug did not answer within {limit} s") from err

    async def switch(self, on: bool) -> None:
        if self.device is None:
            raise KasaError("the plug has not been reached yet")
        try:
            await (self.device.turn_on() if on else self.device.turn_off())
        except KasaException as err:
            if _refused(err):
                raise KasaRefused(str(err)) from err
            raise KasaError(str(err) or type(err).__name__) from err

    @property
    def mac(self) -> str | None:
        return self.device.mac if self.device else None

    @property
    def firmware(self) -> str | None:
        return self.device.device_info.firmware_version if self.device else None

    async def close(self) -> None:
        if self.device is not None:
            await self.device.disconnect()


def _reading(device: Device) -> Reading:
    """The values of the last `update()`; python-kasa's Energy module is there only where
    the plug measures (an HS110, a P110)."""
    region = device.region
    model = f"{device.model}({region})" if region else device.model
    energy = device.modules.get(Module.Energy)
    if energy is None:
        return Reading(on=device.is_on, model=model, alias=device.alias)
    return Reading(
        on=device.is_on,
        power=energy.current_consumption,
        total=energy.consumption_total,
        today=energy.consumption_today,
        voltage=energy.voltage,
        current=energy.current,
        model=model,
        alias=device.alias,
    )
