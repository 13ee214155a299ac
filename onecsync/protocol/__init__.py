"""The EnterpriseData exchange protocol: envelope, streaming reader and writer, numbering rules.

Pure: no state, no files of its own, no click or rich.
"""
