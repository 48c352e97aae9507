"""The desktop monitor: the only package that imports PySide6 and qasync.

Data side: :mod:`.batch_list` (a plain evented list of batches), :mod:`.table_model`
(its Qt model), :mod:`.filter_proxy`, :mod:`.progress_delegate`, :mod:`.actions` (pure),
:mod:`.poller` (the 2-second sync timer) and :mod:`.notifications`. Importing this
package imports nothing else, so the pure modules stay cheap to import.
"""
