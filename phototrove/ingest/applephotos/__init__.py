"""Apple Photos libraries (`.photoslibrary`, Photos 5 and later), read in place."""
