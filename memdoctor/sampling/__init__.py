"""Sources of memory samples: /proc readers, the process tree, cgroups and limits, the sampling loop."""
