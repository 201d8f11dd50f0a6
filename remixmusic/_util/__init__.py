"""Private helpers that import nothing from remixmusic: atomic files, parallel map, arrays, suffix arrays, rendering."""
