"""Healthcare recognizers, one per module, registered explicitly in `nlu.phi.engine`."""
