//! The custom resources of group `tollgate.dev`, version `v1alpha1`.
