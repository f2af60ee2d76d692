DROP TABLE group_type_specs;
DROP TABLE group_types;
