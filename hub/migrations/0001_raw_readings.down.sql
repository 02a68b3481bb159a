DROP TABLE raw.readings;
DROP TABLE raw.edges;
DROP SCHEMA raw;
