DROP TABLE volume_type_encryption;
