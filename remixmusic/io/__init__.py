"""Reading and writing music: MIDI files and folders (with a parse cache), and music21 scores."""
