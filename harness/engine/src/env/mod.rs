//! (env/faults helper) placeholder
