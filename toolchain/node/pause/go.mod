module inception.local/pause

go 1.24
