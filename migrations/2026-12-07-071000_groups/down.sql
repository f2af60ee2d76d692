DROP TABLE group_volume_types;
DROP TABLE groups;
