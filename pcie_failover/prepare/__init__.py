"""`prepare`: make a VF ready for failover, reversibly (plan from check's assessment, run with rollback, undo)."""
