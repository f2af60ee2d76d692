DROP TABLE services;
DROP TABLE volume_type_qos;
DROP TABLE qos_spec_values;
DROP TABLE qos_specs;
DROP TABLE default_volume_types;
DROP TABLE volume_type_projects;
