-- Why a run ended the way it did, in one sentence (issue #16): the
-- promotion rule's verdict for succeeded runs ("rejected: mlp stopped at
-- epoch 1 of 200 …", "candidate ridge MSE(ln) 1.95 ≤ …"). Runs recorded
-- before this column have NULL, read as "no reason recorded"; the decision
-- column may now also hold 'rejected' (the candidate failed the quality
-- floor).
ALTER TABLE runs ADD COLUMN reason TEXT;
