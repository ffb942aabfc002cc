"""A delivered survey wave's one way from its file(s) to the warehouse, one module per step, each
visited once and in this order (ingest/survey/load.py walks them):

1. ``read`` — the delivered format (SPSS .sav, an Excel sheet, CSV) to a raw table: values as
   delivered, the place of each record in the file, the file's own labels; what is refused here is
   the file's shape (encoding, records, sheet, header, size before parsing).
2. ``apply_codebook`` — the codebook's columns, its row_status rule and expected size, every value
   converted to what the codebook means (numbers, labels, municipality codes through their aliases).
   A wave delivered in several files (``delivery.parts``) is read and converted part by part
   (steps 1 and 2 repeat per part) and then taken as one ``Wave`` (``union``).
3. ``validate`` — the converted wave against the codebook and the reference: calendar, respondent
   ids, codes, weights, ages, municipalities, ids across parts, coverage of the fieldwork plan, the
   union's size.
4. ``write`` — the validated wave into the raw tables, in one transaction with its audit.

``ingest.warehouse.load_survey_wave`` is the entry point: it takes the delivery in (archive,
identity, held or unchanged deliveries, quarantine and rejection) and calls ``load.load_wave``.
"""
