//! Renders an analysis.
