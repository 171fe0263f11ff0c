//! Records a real workload from a live MySQL/MariaDB server.
