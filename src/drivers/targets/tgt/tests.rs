//! Tests of the tgt target with the real tgtd and libiscsi tools.
