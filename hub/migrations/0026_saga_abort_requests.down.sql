DROP TABLE saga.abort_requests;
ALTER TABLE saga.instances RESET (fillfactor);
