"""Demo data and stand-ins, apart from the CLI and the database helpers.

* ``scenario``: the generator with known ground truth (the demo's data, the tests' oracle)
* ``landing``: put a scenario into a database, directly or over real HTTP
* ``standin``: a local stand-in for Cal.com's API v2 bookings list serving the same truth
* ``run``: ``booking-report demo``
"""
