"""Where runs live and execute: the store, official vintages, the cluster, the SQL warehouse."""
