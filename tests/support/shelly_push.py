"""What the Shelly push tests share: the devices' broker user and the topic prefix a device sets
for bridge grid-meter (mosquitto/acl, docs/devices/shelly-pro-3em.md)."""

DEVICE_USER = "shelly-grid-meter"
PREFIX = "shelly/grid-meter"
EM = f"{PREFIX}/status/em:0"
EMDATA = f"{PREFIX}/status/emdata:0"
ONLINE = f"{PREFIX}/online"
