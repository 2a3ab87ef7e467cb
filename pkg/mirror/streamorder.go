package mirror

import "strings"

// streamOrder is blobs in about the order a packed bundle holds them: the
// configs, advisories and other small parts first, then the image layers
// (each group in the plan's order, the graph's). An archive in another
// order is served all the same, its answers coming later.
func streamOrder(blobs []*blobPlace) []*blobPlace {
	out := make([]*blobPlace, 0, len(blobs))
	var layers []*blobPlace
	for _, b := range blobs {
		if isImageLayer(b.desc.MediaType) {
			layers = append(layers, b)
		} else {
			out = append(out, b)
		}
	}
	return append(out, layers...)
}

// isImageLayer reports whether mt is an image layer's media type, OCI's
// or docker's.
func isImageLayer(mt string) bool {
	return strings.HasPrefix(mt, "application/vnd.oci.image.layer.") || strings.HasPrefix(mt, "application/vnd.docker.image.rootfs.")
}
