"""How good a generative model's random samples are: `studio evaluate`.

:mod:`.measures` (KID, precision/recall, density/coverage on feature vectors), :mod:`.classifier`
(the emoji-group classifier whose features are the second space) and :mod:`.report` (the job
that draws samples, embeds them and writes the report and the nearest-neighbour sheet).
"""
