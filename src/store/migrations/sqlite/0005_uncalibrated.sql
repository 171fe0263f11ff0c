-- What the model answered before a server calibration (issue #17): the
-- median and p10–p90 of the same model without the calibration laid over
-- it, so live accuracy can report bias and coverage before and after.
-- NULL when the served model was not calibrated (the answer is then its
-- own "before"), and for rows written before this column.
ALTER TABLE predictions ADD COLUMN raw_seconds DOUBLE PRECISION;
ALTER TABLE predictions ADD COLUMN raw_p10 DOUBLE PRECISION;
ALTER TABLE predictions ADD COLUMN raw_p90 DOUBLE PRECISION;
