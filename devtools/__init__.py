"""Development tools shared by the tests, the benchmarks and `booking-report demo` (which
starts the receiver the way they do): throwaway databases and built-once templates
(``devtools.pg``), a throwaway Postgres cluster that may be stopped or frozen
(``devtools.cluster``), a transaction-mode pgbouncer in front of a database
(``devtools.pooler``), and network helpers (free ports, waiting for a server, slow
clients: ``devtools.net``)."""
