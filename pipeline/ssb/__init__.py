"""Talk to SSB's statbank (PxWebApi v0/v2): the client (``client``), its throttle, query splitting (``query``),
errors (``errors``), the publication calendar (``calendar``) and vintages (``vintage``).

Import the module you need: the package itself loads nothing, so a command that only needs the calendar
does not pay for requests and the client."""
