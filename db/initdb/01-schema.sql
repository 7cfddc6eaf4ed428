-- The TechEmpower "world" table: the one table every model queries.
CREATE TABLE world (
  id           integer PRIMARY KEY,
  randomnumber integer NOT NULL
);

-- Seed data: 10,000 rows with numbers in 1..10000. Random at init; tests compare
-- what a service returns with what this table holds, never with fixed values.
INSERT INTO world (id, randomnumber)
SELECT g, 1 + floor(random() * 10000)::integer
FROM generate_series(1, 10000) AS g;

ANALYZE world;

-- Needed to verify runs: every /db request must be exactly one executed statement.
CREATE EXTENSION IF NOT EXISTS pg_stat_statements;
