package sim

import (
	"fmt"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"sync"
)

// formatValue prints v as fmt's %+v does, except that byte slices and byte
// arrays print as quoted Go strings ("put k v", "\xc1\x01inc 1") instead of
// lists of decimal numbers: commands and values that are text read as text
// in traces and timelines, and binary stays unambiguous. Values whose type
// holds no bytes go straight to fmt. Output past maxDescribe bytes is cut
// (the trace keeps 240 characters anyway).
func formatValue(v any) string {
	rv := reflect.ValueOf(v)
	if !rv.IsValid() || !hasBytes(rv.Type()) {
		return fmt.Sprintf("%+v", v)
	}
	var b strings.Builder
	writeValue(&b, rv, true)
	return b.String()
}

const maxDescribe = 512

var bytesCache sync.Map // reflect.Type -> bool

// hasBytes reports whether a value of type t can contain a byte slice or
// array (through fields, elements, pointers; interfaces count as maybe).
func hasBytes(t reflect.Type) bool {
	if b, ok := bytesCache.Load(t); ok {
		return b.(bool)
	}
	bytesCache.Store(t, false) // cuts recursion through recursive types
	var has bool
	switch t.Kind() {
	case reflect.Slice, reflect.Array:
		has = t.Elem().Kind() == reflect.Uint8 || hasBytes(t.Elem())
	case reflect.Pointer:
		has = hasBytes(t.Elem())
	case reflect.Map:
		has = hasBytes(t.Key()) || hasBytes(t.Elem())
	case reflect.Interface:
		has = true
	case reflect.Struct:
		for i := 0; i < t.NumField() && !has; i++ {
			has = hasBytes(t.Field(i).Type)
		}
	}
	bytesCache.Store(t, has)
	return has
}

func writeValue(b *strings.Builder, v reflect.Value, top bool) {
	if b.Len() > maxDescribe {
		return
	}
	if !v.IsValid() {
		b.WriteString("<nil>")
		return
	}
	if v.CanInterface() && !hasBytes(v.Type()) {
		if v.Kind() == reflect.Pointer && !top && !v.IsNil() {
			b.WriteByte('&')
			fmt.Fprintf(b, "%+v", v.Elem().Interface())
			return
		}
		fmt.Fprintf(b, "%+v", v.Interface())
		return
	}
	if v.CanInterface() {
		switch x := v.Interface().(type) {
		case fmt.Stringer:
			if v.Kind() != reflect.Pointer || !v.IsNil() {
				b.WriteString(x.String())
				return
			}
		case error:
			if v.Kind() != reflect.Pointer || !v.IsNil() {
				b.WriteString(x.Error())
				return
			}
		}
	}
	switch v.Kind() {
	case reflect.Slice, reflect.Array:
		if v.Type().Elem().Kind() == reflect.Uint8 {
			if v.Kind() == reflect.Slice && v.IsNil() {
				b.WriteString(`""`)
				return
			}
			raw := make([]byte, v.Len())
			for i := range raw {
				raw[i] = byte(v.Index(i).Uint())
			}
			if len(raw) > maxDescribe {
				raw = raw[:maxDescribe]
			}
			b.WriteString(strconv.Quote(string(raw)))
			return
		}
		b.WriteByte('[')
		for i := 0; i < v.Len() && b.Len() <= maxDescribe; i++ {
			if i > 0 {
				b.WriteByte(' ')
			}
			writeValue(b, v.Index(i), false)
		}
		b.WriteByte(']')
	case reflect.Struct:
		b.WriteByte('{')
		t := v.Type()
		for i := 0; i < v.NumField() && b.Len() <= maxDescribe; i++ {
			if i > 0 {
				b.WriteByte(' ')
			}
			b.WriteString(t.Field(i).Name)
			b.WriteByte(':')
			writeValue(b, v.Field(i), false)
		}
		b.WriteByte('}')
	case reflect.Pointer:
		if v.IsNil() {
			b.WriteString("<nil>")
			return
		}
		b.WriteByte('&')
		writeValue(b, v.Elem(), false)
	case reflect.Interface:
		if v.IsNil() {
			b.WriteString("<nil>")
			return
		}
		writeValue(b, v.Elem(), false)
	case reflect.Map:
		keys := v.MapKeys()
		sort.Slice(keys, func(i, j int) bool { return lessKey(keys[i], keys[j]) })
		b.WriteString("map[")
		for i, k := range keys {
			if i > 0 {
				b.WriteByte(' ')
			}
			writeValue(b, k, false)
			b.WriteByte(':')
			writeValue(b, v.MapIndex(k), false)
		}
		b.WriteByte(']')
	default:
		fmt.Fprintf(b, "%v", v) // fmt prints a reflect.Value's content, unexported or not
	}
}

// lessKey orders map keys as fmt does for the common kinds (numbers by
// value, strings lexically), and by their printed form otherwise.
func lessKey(a, b reflect.Value) bool {
	switch a.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return a.Int() < b.Int()
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return a.Uint() < b.Uint()
	case reflect.String:
		return a.String() < b.String()
	case reflect.Float32, reflect.Float64:
		return a.Float() < b.Float()
	}
	return fmt.Sprint(a) < fmt.Sprint(b)
}
