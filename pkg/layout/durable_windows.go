package layout

// SyncDir does nothing on Windows: a directory cannot be opened for
// flushing there, and NTFS journals its entries.
func SyncDir(dir string) error { return nil }
