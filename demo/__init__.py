"""The demo page (`make demo`): a local web front end of host.runtime."""
