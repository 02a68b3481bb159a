-- Links made from the inventory stay in erp.devices (and their audit records in the trail).
DROP TABLE raw.edge_devices;
