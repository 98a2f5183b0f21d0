"""What a family of models declares to the shared layer, below the methods (CONTRIBUTING.md, "The layers").

=====================  ==============================================================================
:mod:`.protocol`        the Recommender protocol (``loss``, ``score(batch, items=None)``, ``requires``)
                        and its one input type, :class:`~.protocol.Batch`
:mod:`.registry`        :class:`~.registry.Method` (what a method declares) and the registry by name
:mod:`.options`         typed options, checked in one place (the config's fields, a method's options)
=====================  ==============================================================================

The config, the run folders, the trainer and evaluation read a family only through these; nothing
here imports :mod:`srsupm_lab.methods` (a method loads by name on first use).
"""
