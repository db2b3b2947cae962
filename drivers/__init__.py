"""Everything that speaks to a modem.

Layers, bottom up: `pdu` (TS 23.040 codec), `at.framing` (bytes -> lines and the `> ` prompt),
`at.urc` (unsolicited lines recognised first and stripped), `at.channel` (one command in flight
per port, deadlines, one fatal path), `at.commands` (every command as data), `dialects` (vendor
subclasses), `modem` (the typed API), `discovery` (finding ports by IMEI). `errors` holds the
exception tree and the one +CMS/+CME table. Import what you need from those modules; this package
file stays empty so that `drivers.pdu` users do not pull in the AT stack.
"""
