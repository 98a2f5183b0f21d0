"""The command line's parts (``python -m srsupm_lab COMMAND``): :mod:`.train` (the ``train`` command's
options, one per config field and method option) and :mod:`.mechanism` (``diagnose``, ``screen``,
``oracle-gap``, ``decisive``)."""
