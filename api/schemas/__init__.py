"""The API's request and response shapes, one module per noun (``TargetPublic`` in ``targets``)."""
