DROP TABLE lifecycle_event;
DROP TABLE managed_pane;
DROP TABLE managed_layout;
DROP TABLE routes;
DROP TABLE agents;
DROP TABLE containers;
