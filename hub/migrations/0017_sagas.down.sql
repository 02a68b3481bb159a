DROP TABLE saga.outbox;
DROP TABLE saga.step_runs;
DROP TABLE saga.instances;
DROP TABLE saga.processes;
