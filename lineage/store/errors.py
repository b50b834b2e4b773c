"""What the store raises: errors in the store's words, which the CLI and the server translate."""


class StoreError(RuntimeError):
    """The store cannot be opened or used; the message says how to fix it."""


class NoStoreError(StoreError):
    """The store file does not exist and was not to be created."""


class StoreLockedError(StoreError):
    """Another process holds the store file."""


class UndeclaredNodes(ValueError):
    """Facts name nodes no fact declares (a loader's bug, or a batch sent by a client that
    is not what a loader makes); the batch is not stored."""
