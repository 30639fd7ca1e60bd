-- How a game ended: the race the engine named the winner (NULL when it named
-- none, or an operator stopped the game). The final turn is games.current_turn
-- and the end's time games.finished_at, both set already.

ALTER TABLE games ADD COLUMN winner_race text;
