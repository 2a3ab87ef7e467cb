package mirror

import "io/fs"

// fileID is 0 on Windows, where os.FileInfo does not carry the file's
// index: a record names files by path and bytes alone there.
func fileID(fs.FileInfo) uint64 { return 0 }

// foreignRecord is "" on Windows, where the record's owner is not
// checked: the directory's ACL alone keeps others from writing it.
func foreignRecord(fs.FileInfo) string { return "" }
