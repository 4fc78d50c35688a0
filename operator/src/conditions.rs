//! Status conditions (Ready, Reconciling, Stalled and kind-specific ones) and their transitions.
