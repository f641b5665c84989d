"""The training room (see the restructure): here, data-parallel support in :mod:`.distributed`."""
