// Time-bounded fact lookups ("as of", "in May 2023").
CREATE RANGE INDEX relates_valid_from IF NOT EXISTS
FOR ()-[r:RELATES]-() ON (r.valid_from)
