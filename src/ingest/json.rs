//! The JSON exports of `mysql.slow_log` and `mysql.general_log`.
