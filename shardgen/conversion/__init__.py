"""Conversion: a dataset adapter's plan run in parallel into tar shards (``writer``), written to a
folder or object storage (``storage``), split over machines and joined (``merge``; ``engines``:
on a Ray cluster), rebuilt (``reindex``) and checked (``verify``)."""
