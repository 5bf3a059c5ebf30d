"""
The built-in event-log backends, each registered under the ``eventreg.backends``
entry-point group exactly as a third party's would be.
"""
